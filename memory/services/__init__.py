"""Services: take a session, an actor and plain data; own the transaction."""
