"""`python -m derivtrain [overrides]` and the `derivtrain` command (pyproject: derivtrain.__main__:entry)."""
import os


def entry() -> None:
    # Before torch loads its OpenMP runtime: idle pool threads sleep instead of spinning. With the
    # default (active) policy, a parallel region on a machine whose cores are busy waits for
    # descheduled spinning threads: measured on 2 loaded cores, the certified solver on 100k x 50
    # took 20 s on two threads against 1.5 s on one; passive, two threads took 1.5 s. A user's own
    # setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from derivtrain.cli import main

    main()


if __name__ == "__main__":
    entry()
