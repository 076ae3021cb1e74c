"""The course's answer knowledge: misconceptions and the tables of wrong answers."""
