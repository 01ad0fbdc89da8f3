"""Build of the optional C speedup; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        # optional: without a C compiler the install still succeeds and slabridge uses
        # the pure-Python path (same results, about half the due-time speed).
        Extension(
            "slabridge.domain._calendar_speedups",
            ["slabridge/domain/_calendar_speedups.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
    ],
)
