"""The development stack: what starts the app and its directory on this machine for the tests, the
browser suite and the benchmarks, and talks to it as a person would.

- ``native``: deploy/native.sh's stack on free ports in a folder of its own (``NativeStack``).
- ``browser``: a keep-alive HTTP client with cookies that fills the sign-in form (``Browser``).
- ``environment``: the environment that points the app at a directory (``directory_environment``).
- ``delay_proxy``: a TCP proxy that delays each direction, for timing and deadline tests.
- ``roles``: which demo persona plays each role in the browser suite.
"""
