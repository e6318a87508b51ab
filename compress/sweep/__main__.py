"""`python -m compress.sweep SWEEP_DIR`: (re)write a sweep's summary, e.g. after an interrupt."""

from compress.sweep.summary import main

if __name__ == "__main__":
    main()
