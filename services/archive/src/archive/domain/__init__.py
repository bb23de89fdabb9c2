"""Archive's rules as pure functions: which documents a lock makes, their ids and versions, the
package manifest, and when a failed step is tried again."""
