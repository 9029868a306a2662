//! The embedded staging server.
