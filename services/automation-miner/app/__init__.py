"""automation-miner: finds automation candidates in Home Assistant event histories."""
