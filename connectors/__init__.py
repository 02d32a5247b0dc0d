"""The outside world: Integreat (API v3, CMS fixtures), DeepL, files."""
