"""The Python suite runs against the installed wheel (scripts/python-test.sh), one thread."""
import sodeep

sodeep.set_num_threads(1)
