"""One router per endpoint group; each reads its collaborators from `app.state`."""
