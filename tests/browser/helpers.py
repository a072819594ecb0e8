"""What several browser tests do: log in to the admin as the `admin_user` fixture."""

PASSWORD = "secret"


def log_in(page, user):
    from playwright.sync_api import expect  # here: without playwright the tests only skip

    page.goto("/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_be_visible()
