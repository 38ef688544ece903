"""The plan's reports: figures per period (month, quarter, half-year, year), per institution and platform-wide.

periods.py names the periods; figures.py is what a report says (plain data, stored as JSON);
queries.py computes it with grouped SQL; produced.py stores each closed period's report once and
tells the supervisors.
"""
