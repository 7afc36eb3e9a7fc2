"""Where the CLI finds the API and the token: flags, then environment, then a profile.

`annotate login` writes profiles to $ANNOTATE_CONFIG, else $XDG_CONFIG_HOME/annotate/
profiles.json (~/.config/...), readable by the user only since it holds bearer tokens.
Environment: ANNOTATE_API, ANNOTATE_TOKEN, ANNOTATE_SITE (annotator page, for invite links),
ANNOTATE_PROFILE (which profile; default "default").
"""
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Settings:
    api: str | None
    token: str | None
    site: str | None


def config_path() -> Path:
    if os.environ.get("ANNOTATE_CONFIG"):
        return Path(os.environ["ANNOTATE_CONFIG"])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "annotate" / "profiles.json"


def load_profiles() -> dict:
    path = config_path()
    return json.loads(path.read_text()) if path.exists() else {}


def save_profile(name: str, api: str, token: str, site: str | None) -> Path:
    path = config_path()
    profiles = load_profiles()
    profiles[name] = {"api": api, "token": token, **({"site": site} if site else {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created private before the token is written into it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(profiles, fh, indent=2)
    return path


def resolve(api: str | None, token: str | None, profile: str | None) -> Settings:
    name = profile or os.environ.get("ANNOTATE_PROFILE") or "default"
    stored = load_profiles().get(name, {})
    return Settings(api=api or os.environ.get("ANNOTATE_API") or stored.get("api"),
                    token=token or os.environ.get("ANNOTATE_TOKEN") or stored.get("token"),
                    site=os.environ.get("ANNOTATE_SITE") or stored.get("site"))
