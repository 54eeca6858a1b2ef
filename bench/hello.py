"""The bare Flask hello-world app every benchmark is compared against.

Machines here are shared and noisy, so absolute requests/s mean little; a page's rate is
quoted as a ratio against this app served the same way in the same run.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
