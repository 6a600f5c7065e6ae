/** Picks the connector implementation for each configured connection (STYLE.md section 2). */
import { LinepilotError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { LineConfig } from "../config/schema.js";
import type { SampleWriter } from "../store/sampleWriter.js";
import type { Store } from "../store/store.js";
import type { Connector } from "./connector.js";
import { ModbusConnector } from "./modbus/modbusConnector.js";

export interface ConnectorDeps {
  writer: SampleWriter;
  store: Store;
  log: Logger;
}

export function createConnectors(config: LineConfig, deps: ConnectorDeps): Connector[] {
  return config.connections.map((connection) => {
    const tags = config.tags.filter((t) => t.connection === connection.id);
    if (connection.protocol === "opcua") return unsupported(connection.id);
    return new ModbusConnector(connection, tags, deps);
  });
}

function unsupported(id: string): never {
  throw new LinepilotError(
    "LP_ERR_CONNECTOR",
    `connection '${id}': the OPC UA connector is not part of this build yet (see issue 3); use Modbus TCP/RTU`,
  );
}
