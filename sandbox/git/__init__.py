"""The sandbox's git side: bare repositories behind `git http-backend`, checking CodeCommit's SigV4 git passwords."""
