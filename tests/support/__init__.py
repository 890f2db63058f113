"""What the tests, benchmarks and evaluations share: media generators whose right answers are known,
real servers started on loopback, the databases each test gets, and stand-ins for remote services."""
