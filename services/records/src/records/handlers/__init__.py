"""One async function per command or consumed event; HTTP routes and consumers share them."""
