"""The business API: instances, events, history, stateless fire.

Any authenticated client may call it. A client acts only as one of its own roles (designers
and admin staff as any role); asking for another role is ROLE_FORBIDDEN.
"""
