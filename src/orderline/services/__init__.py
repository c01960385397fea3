"""Use cases. Each public function runs as one database transaction."""
