"""The README's API session (issue 15), run as written: its ``curl`` commands, shell variables
and ``jq`` extractions are interpreted here and sent to the app in-process.

Only the OTP placeholder (``OTP=123456``) is replaced, by the current code of the user's TOTP
secret, as a person would type the code shown by the application.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pyotp

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_session() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands, current = [], ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        commands.append(current.strip())
        current = ""
    return commands


def expand(text: str, env: dict[str, str]) -> str:
    """``$NAME`` replaced outside single quotes (escaped inside double quotes), as the shell does."""
    out, single, double, i = [], False, False, 0
    while i < len(text):
        ch = text[i]
        if ch == "'" and not double:
            single = not single
        elif ch == '"' and not single and (i == 0 or text[i - 1] != "\\"):
            double = not double
        elif ch == "$" and not single:
            match = re.match(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", text[i:])
            if match:
                value = env[match.group(1)]
                out.append(value.replace("\\", "\\\\").replace('"', '\\"') if double else shlex.quote(value))
                i += match.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def jq(data: str, path: str) -> str:
    value = json.loads(data)
    for key, index in re.findall(r"\.([A-Za-z_]\w*)|\[(\d+)\]", path):
        value = value[key] if key else value[int(index)]
    return value if isinstance(value, str) else json.dumps(value)


class Shell:
    def __init__(self, client, otp: pyotp.TOTP):
        self.client, self.otp, self.env, self.answers = client, otp, {}, []

    def curl(self, args: list[str]) -> str:
        method, headers, data, url = "GET", {}, None, None
        it = iter(args)
        for arg in it:
            if arg == "-s":
                continue
            if arg == "-X":
                method = next(it)
            elif arg == "-H":
                name, value = next(it).split(":", 1)
                headers[name.strip()] = value.strip()
            elif arg == "-d":
                data = next(it)
                method = method if method != "GET" else "POST"
            elif arg.startswith("http"):
                url = arg
            else:
                raise AssertionError(f"option curl non prise en charge : {arg}")
        path = re.sub(r"^https?://[^/]+", "", url)
        response = self.client.open(path, method=method, headers=headers, data=data)
        self.answers.append((method, path, response.status_code, response.get_json()))
        assert response.status_code < 400, (method, path, response.get_json())
        return response.get_data(as_text=True)

    def pipeline(self, text: str) -> str:
        stages = [shlex.split(part) for part in re.split(r"\s\|\s", expand(text, self.env))]
        out = ""
        for argv in stages:
            if argv[0] == "curl":
                out = self.curl(argv[1:])
            elif argv[0] == "echo":
                out = " ".join(argv[1:])
            elif argv[:2] == ["jq", "-r"]:
                out = jq(out, argv[2])
            else:
                raise AssertionError(f"commande non prise en charge : {argv[0]}")
        return out

    def run(self, line: str) -> None:
        assign = re.match(r"^([A-Z_]+)=(.*)$", line, re.S)
        if not assign:
            self.pipeline(line)
            return
        name, value = assign.groups()
        sub = re.match(r"^\$\((.*)\)$", value, re.S)
        if sub:
            self.env[name] = self.pipeline(sub.group(1))
        elif name == "OTP":
            assert re.fullmatch(r"\d{6}", value)
            self.env[name] = self.otp.now()
        else:
            self.env[name] = shlex.split(value)[0]


def test_readme_has_the_whole_session():
    text = " ".join(readme_session())
    for step in ("/auth/login", "/auth/mfa/verify", "/eligibility", "/claims/pharmacy", "Idempotency-Key",
                 "/claims/$CLAIM", "/auth/refresh", "/auth/logout"):
        assert step in text


def test_readme_curl_session_runs(app, client, demo):
    from sqlalchemy import select

    from dhamen.extensions import db
    from dhamen.models import User

    pharmacist = db.session.scalar(select(User).where(User.email == "pharmacie@dhamen.tn"))
    pharmacist.mfa_secret = pyotp.random_base32()
    pharmacist.mfa_enabled = True
    db.session.commit()

    shell = Shell(client, pyotp.TOTP(pharmacist.mfa_secret))
    for line in readme_session():
        shell.run(line)

    answers = {(m, re.sub(r"/[0-9A-Z]{26}$", "/{id}", p)): (status, body) for m, p, status, body in shell.answers}
    status, claim = answers[("POST", "/api/v1/claims/pharmacy")]
    assert status == 201 and claim["data"]["status"] in ("approved", "pending_review", "submitted")
    assert claim["data"]["coveredAmount"] > 0
    status, read = answers[("GET", "/api/v1/claims/{id}")]
    assert read["data"]["id"] == claim["data"]["id"] == shell.env["CLAIM"]
    assert answers[("POST", "/api/v1/auth/logout")][1]["data"] == {"loggedOut": True}
    # the session is over: the last access token and refresh token are refused
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {shell.env['TOKEN']}"}).status_code == 401
    again = client.post("/api/v1/auth/refresh", json={"refreshToken": shell.env["REFRESH"]})
    assert again.status_code == 401


def test_expand_follows_the_shell_quoting():
    env = {"X": 'v"1 $Y', "Y": "non"}
    argv = shlex.split(expand("""-d "{\\"a\\": \\"$X\\"}" '$X' $X""", env))
    assert argv == ["-d", '{"a": "v"1 $Y"}', "$X", 'v"1 $Y']  # as bash: the value, not re-expanded
