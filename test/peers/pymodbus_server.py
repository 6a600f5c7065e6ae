#!/usr/bin/python3
"""An independent Modbus server for the tests: Debian's python3-pymodbus (3.0), TCP or RTU.

Unit 1 serves holding registers 0..19 with known values in several encodings; an address past 19
answers exception 2 (illegal data address). Prints `ready <port>` (TCP) or `ready` (RTU) on stdout.
Usage: pymodbus_server.py tcp | pymodbus_server.py rtu /dev/pts/N
"""
import asyncio
import struct
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
from pymodbus.transaction import ModbusRtuFramer


def words(fmt, value):
    raw = struct.pack(">" + fmt, value)
    return [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]


def holding():
    regs = [0] * 20
    regs[0:2] = words("f", 1234.5)  # float32, big word order
    regs[2:4] = list(reversed(words("f", -42.25)))  # float32, little word order (word swap)
    regs[4:6] = words("i", -5)  # int32
    regs[6] = 700  # uint16 (scaled 0.1 -> 70.0)
    regs[8:12] = words("d", 3.141592653589793)  # float64
    regs[12] = 0  # writable setpoint
    return regs


async def main():
    block = ModbusSequentialDataBlock(0, holding())
    slave = ModbusSlaveContext(hr=block, ir=ModbusSequentialDataBlock(0, [0] * 20), zero_mode=True)
    context = ModbusServerContext(slaves={1: slave}, single=False)
    if sys.argv[1] == "tcp":
        server = ModbusTcpServer(context, address=("127.0.0.1", 0), allow_reuse_address=True)
        task = asyncio.create_task(server.serve_forever())
        await server.serving
        print("ready", server.server.sockets[0].getsockname()[1], flush=True)
        await task
    else:
        server = ModbusSerialServer(context, framer=ModbusRtuFramer, port=sys.argv[2], baudrate=19200, parity="N", bytesize=8, stopbits=1)  # 8N1: a pty refuses parity settings (EINVAL)
        await server.start()  # opens the serial port (serve_forever only idles for serial servers)
        if server.transport is None:
            sys.exit("cannot open " + sys.argv[2])
        print("ready", flush=True)
        await server.serve_forever()


asyncio.run(main())
