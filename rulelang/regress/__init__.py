"""Testing rules beyond example blocks: scenario files, rule coverage, boundary cases, JUnit XML, pytest.

Modules, in the order data flows:

- ``scenarios``: read CSV, JSON, JSON Lines and YAML scenario files into cases
  (``literals`` reads their cells exactly, ``yamlio`` their YAML);
- ``runner``: find and run every case under some paths, on both evaluators;
- ``coverage``: which tier rows, levels and branches the cases exercised;
- ``junit``: the runs as JUnit XML;
- ``boundaries`` and ``measure``: cases at every tier edge and level threshold;
  ``cases``: their outputs frozen and written as a scenario file;
- ``pytest_plugin``: the same cases as pytest items.

The case model itself (a case, its checks, an outcome) is :mod:`rulelang.testing`.
"""
