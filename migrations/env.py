"""Alembic environment: migrates the database named by DATABASE_URL (or -x url=...)."""

from alembic import context

from actions.profile_db.models import Base
from actions.profile_db.session import make_engine
from actions.settings import get_settings

config = context.config
url = (
    context.get_x_argument(as_dictionary=True).get("url")
    or config.attributes.get("url")
    or get_settings().database_url
)


def run_offline() -> None:
    """Emit SQL without a connection (``alembic upgrade head --sql``)."""
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Apply migrations over a live connection."""
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
