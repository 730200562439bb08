"""The scheduling service: a FastAPI app over a durable job and plan store.

``create_app(ServiceConfig(...))`` builds the app; ``schoolbus serve`` runs it under uvicorn. The
store (:mod:`schoolbus.service.db`) is SQLite by default and PostgreSQL when
``SCHOOLBUS_DATABASE_URL`` says so; plans are solved in separate worker processes
(:mod:`schoolbus.service.jobs`), never in a request thread.
"""
