"""The words of the hub's own pages (login, "starting your server", home, stop, logout, errors)
that sabaq translates.

JupyterHub renders its pages with its English texts. hub-templates/page.html, which every hub
page extends, puts each of these texts into the reader's language in the browser: the one
chosen on sabaq's pages (the sabaq-lang cookie), else the browser's first of kk, ru, en, else
the site's (hubconfig.login_page_texts gives it the catalogues). A text is matched whole, with
its spaces collapsed, so JupyterHub's templates need no copy.
"""

from __future__ import annotations

from sabaq.i18n import N_

HUB_PAGE_TEXTS = (
    # every page's header
    N_("Home"), N_("Token"), N_("Admin"), N_("Services"), N_("Logout"), N_("Login"),
    N_("JupyterHub requires JavaScript."), N_("Please enable it to proceed."), N_("Skip to main content"),
    # "starting your server" and the home page
    N_("Your server is starting up."), N_("You will be redirected automatically when it's ready for you."),
    N_("Event log"), N_("Stop Server"), N_("Complete"), N_("Start My Server"), N_("My Server"), N_("Stop My Server"),
    N_("Your server is stopping."), N_("You will be able to start it again once it has finished stopping."),
    N_("Successfully logged out."), N_("Server not running"), N_("Spawn failed"),
    N_("Would you like to retry starting it?"), N_("Would you like to start it?"), N_("Relaunch"), N_("Launch"),
    # error pages
    N_("Not Found"), N_("Forbidden"), N_("Service Unavailable"), N_("Internal Server Error"),
    N_("There is no page at this address. Check the link."), N_("Go to the home page"),
    N_("The service is busy or restarting. Wait a minute and reload the page."),
)
