"""One async function per command of the identity service (HTTP and consumers call them)."""
