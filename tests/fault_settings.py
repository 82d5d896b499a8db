"""Settings for the processes test_pdf_faults.py starts: production settings with a 3-second PDF lease.

A killed render is taken up once its lease runs out; 3 s instead of 30 s keeps those tests short.
"""

from advisor.settings import *  # noqa: F403

PDF_RENDER_LEASE_SECONDS = 3
