"""The one error the dev stack raises: a server that could not be fetched, started or reached."""


class DevstackError(RuntimeError):
    """A dev-stack server failed; the message says which one, why, and where its log is."""


class PortInUse(DevstackError):
    """A server could not bind the port it was given (another process took it first): start again."""
