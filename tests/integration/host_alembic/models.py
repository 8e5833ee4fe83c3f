"""The minimal host's own models: exactly what its revision h001 creates (``collections`` is the host's)."""

from sqlalchemy import Integer, MetaData, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData()


class Collection(Base):
    __tablename__ = "collections"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    vector_store_name: Mapped[str] = mapped_column(Text, server_default=text("'default'"))


class ChunkingConfig(Base):
    __tablename__ = "chunking_configs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy: Mapped[str] = mapped_column(Text)
