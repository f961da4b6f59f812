"""Infrastructure: audit, crypto, storage, jobs, HTTP edge."""
