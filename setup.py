"""Only what pyproject.toml cannot say: the optional C accelerator and the migrations' package path."""

from setuptools import Extension, find_packages, setup

setup(
    packages=[*find_packages("src"), "semantik_chunks.migrations", "semantik_chunks.migrations.versions"],
    package_dir={"": "src", "semantik_chunks.migrations": "migrations"},
    ext_modules=[
        Extension(
            "semantik_chunks._hashtext",
            ["src/semantik_chunks/_hashtext.c"],
            optional=True,  # without a compiler the pure-Python hashtext is used
        )
    ],
)
