#!/bin/sh
sysctl -w net.core.somaxconn=1024
