"""Jinja templates of the web app; a package only so that a plain install ships them."""
