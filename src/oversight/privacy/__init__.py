"""Privacy and accountability: redaction, reveals, the audit log, retention proof, signed exports, reports."""
