"""Security headers on every response: what the browser may load, frame, send and keep.

Scripts, styles, images, fonts and XHR come from this site only (the chart library and the API
document's renderer are served from /static, never a CDN). Styles alone may be inline: the layout's
<style> block and the renderers' computed styles need it; no script ever runs inline. Every
response but a static file is marked no-store, so a signed-in page (scores, masked numbers) stays
out of the browser's and any proxy's cache once the user signs out.

The session cookie (and Flask-Login's remember cookie) is HttpOnly, SameSite=Lax and Secure, so
it never travels over plain HTTP; TOUCHPOINT_COOKIE_SECURE=0 drops Secure for a plain-http
deployment (browsers still send a Secure cookie to http://localhost and 127.0.0.1).
"""
from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",  # charts exported as images and the renderers' icons are data: URLs
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in (
    "camera", "microphone", "geolocation", "payment", "usb", "serial", "bluetooth", "midi",
    "accelerometer", "gyroscope", "magnetometer",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}
STATIC_ENDPOINTS = {"static"}


def add_security_headers(response: Response) -> Response:
    """Set the security headers a view has not set itself, and no-store on all but static files."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint not in STATIC_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def install(app: Flask, *, cookie_secure: bool = True) -> None:
    """Add the security headers to every response of the app and harden its cookies."""
    for cookie in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        app.config.update({f"{cookie}_SECURE": cookie_secure, f"{cookie}_HTTPONLY": True,
                           f"{cookie}_SAMESITE": "Lax"})
    app.after_request(add_security_headers)
