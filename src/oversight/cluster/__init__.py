"""Scale-out deployment: cameras as Ray actors, a shared batched detector, PostgreSQL, S3, a broker.

Nothing here is imported by the embedded single-machine path; modules that need Ray import it
themselves, so ``import oversight.config.cluster`` stays cheap.
"""
