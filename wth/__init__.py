"""What the reference solution, the grader and the students' tools share: Microsoft's TransactionHistory
parser and the hack's daily series, the simulator behind the bundled data, the endpoint contract and
its clients (smoke test, report), and the students' `wth` command."""
