"""Load with Locust, run in its own process.

Locust monkey-patches the interpreter with gevent when imported, which breaks a pytest
process that already imported requests, ssl and threading. So the package is split:

- ``runner`` (with ``config``, ``shapes``, ``documents``, ``records``, ``phases``,
  ``result``) is what tests import; none of it imports locust or gevent.
- ``users`` (the Locust user classes, usable as a locustfile) and ``driver`` (the
  subprocess entry point, ``python -m chaoskit.load.driver CONFIG.json``) run only in
  the load process.

This module imports nothing on purpose: ``python -m chaoskit.load.driver`` imports it
before the driver, and Locust must patch the interpreter before anything else loads.
"""
