"""Reconciliation (*bordereaux*): generation exactly once, PDF in object storage, payment.

- :mod:`.generation`: the job (claim the approved claims, add up, render, store) and its request;
- :mod:`.document`: the bordereau's pages, rendered in parts and joined;
- :mod:`.operations`: sent / paid, downloads, CSV lines, due cycles;
- :mod:`.views` (insurer portal), :mod:`.provider_views` (provider portals), :mod:`.api`.
"""
