"""The sandbox's AWS side: moto with the Code* operations it lacks, the stack's resources, the events AWS sends."""
