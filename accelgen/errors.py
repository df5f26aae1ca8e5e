"""The one exception the command line turns into ``accelgen: error: …`` and exit status 2."""


class UserError(Exception):
    """Bad input from the user: the message is one line naming the bad value and the allowed range."""
