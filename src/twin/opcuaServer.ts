/**
 * A simulated PLC's OPC UA face (node-opcua server): serves a set of variables that read from and
 * write into a model, with the security modes and logins a real PLC offers. The simulator and the
 * tests use it; it is a real OPC UA server, not a stand-in.
 */
import "../connectors/opcua/library.js";
import { join } from "node:path";
import { OPCUACertificateManager } from "node-opcua-certificate-manager";
import {
  DataType,
  DataValue,
  MessageSecurityMode,
  SecurityPolicy,
  StatusCodes,
  Variant,
  VariantArrayType,
} from "node-opcua-client";
import { OPCUAServer } from "node-opcua-server";
import { getStatusCodeFromCode } from "node-opcua-status-code";

/** OPC UA BadSensorFailure. */
const BAD_SENSOR_FAILURE = 0x808d0000;

export type ServedDataType = "Boolean" | "Int16" | "UInt16" | "Int32" | "UInt32" | "Float" | "Double";

export interface ServedVariable {
  /** String identifier in the server's namespace (ns=1), e.g. Press7.MotorTemp. */
  id: string;
  dataType: ServedDataType;
  /** NaN is served as BadSensorFailure (a failed sensor). */
  read(): number;
  /** Present for a waveform: the variable is a one-dimensional array; undefined is a failed sensor. */
  readBlock?(): Float32Array | undefined;
  /** Present for setpoints: a write from a client lands here. */
  write?(value: number): void;
}

type ServerAddressSpace = NonNullable<OPCUAServer["engine"]["addressSpace"]>;
type OwnNamespace = ReturnType<ServerAddressSpace["getOwnNamespace"]>;
type ObjectsFolder = ServerAddressSpace["rootFolder"]["objects"];

export interface OpcuaPlcServerOptions {
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Where the server keeps its own certificate, so a restart keeps the same one. */
  pkiDir: string;
  securityModes?: ("None" | "Sign" | "SignAndEncrypt")[];
  /** username -> password; when set, these logins are accepted. */
  users?: Record<string, string>;
  allowAnonymous?: boolean;
  /** Accept X.509 user logins whose certificate is in <pkiDir>/users/trusted/certs. */
  userCertificates?: boolean;
  /** A simulator accepts any client certificate; a test of trust may set this false. */
  acceptClientCertificates?: boolean;
  variables: readonly ServedVariable[];
  minimumSamplingIntervalMs?: number;
  /** Adds nodes of its own to the server's namespace before it starts (a plant's folders, say). */
  populate?(namespace: OwnNamespace, objects: ObjectsFolder): void;
}

export class OpcuaPlcServer {
  readonly #options: OpcuaPlcServerOptions;
  readonly #status = new Map<string, number>();
  #server: OPCUAServer | undefined;
  #port = 0;

  constructor(options: OpcuaPlcServerOptions) {
    this.#options = options;
  }

  get endpointUrl(): string {
    return `opc.tcp://${this.#options.host ?? "127.0.0.1"}:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  /** The server's application certificate, for a client's trusted/ folder. */
  get certificateFile(): string {
    return join(this.#options.pkiDir, "own", "certs", "certificate.pem");
  }

  /** Where a user certificate must be for an X.509 login to be accepted. */
  get trustedUserCertificatesDir(): string {
    return join(this.#options.pkiDir, "users", "trusted", "certs");
  }

  /** Serves `id` with this status (e.g. a Bad sensor) until cleared with 0. */
  setStatus(id: string, status: number): void {
    if (status === 0) this.#status.delete(id);
    else this.#status.set(id, status);
  }

  async start(): Promise<void> {
    const o = this.#options;
    const certificateManager = new OPCUACertificateManager({
      rootFolder: o.pkiDir,
      automaticallyAcceptUnknownCertificate: o.acceptClientCertificates ?? true,
    });
    await certificateManager.initialize();
    const userCertificateManager = o.userCertificates
      ? new OPCUACertificateManager({
          rootFolder: join(o.pkiDir, "users"),
          automaticallyAcceptUnknownCertificate: false,
        })
      : undefined;
    await userCertificateManager?.initialize();
    const modes = o.securityModes ?? ["None", "SignAndEncrypt"];
    const users = o.users;
    const server = new OPCUAServer({
      hostname: o.host ?? "127.0.0.1",
      host: o.host ?? "127.0.0.1", // listen there only: a simulator is not for the plant network
      port: this.#port === 0 ? (o.port ?? 0) : this.#port, // a restart comes back on the same port
      serverCertificateManager: certificateManager,
      ...(userCertificateManager === undefined ? {} : { userCertificateManager }),
      certificateFile: this.certificateFile,
      privateKeyFile: join(o.pkiDir, "own", "private", "private_key.pem"),
      securityModes: modes.map((m) => MessageSecurityMode[m]),
      securityPolicies: [
        ...(modes.includes("None") ? [SecurityPolicy.None] : []),
        SecurityPolicy.Basic256Sha256,
        SecurityPolicy.Aes128_Sha256_RsaOaep,
      ],
      allowAnonymous: o.allowAnonymous ?? users === undefined,
      userManager:
        users === undefined
          ? undefined
          : { isValidUser: (name: string, password: string) => users[name] === password },
      buildInfo: { productName: "linepilot simulated PLC", manufacturerName: "linepilot" },
    });
    await server.initialize();
    const addressSpace = server.engine.addressSpace!;
    const ns = addressSpace.getOwnNamespace();
    for (const v of o.variables) {
      const dataType = DataType[v.dataType];
      ns.addVariable({
        organizedBy: addressSpace.rootFolder.objects,
        nodeId: `s=${v.id}`,
        browseName: v.id,
        dataType: v.dataType,
        ...(v.readBlock === undefined ? {} : { valueRank: 1, arrayDimensions: [0] }),
        minimumSamplingInterval: o.minimumSamplingIntervalMs ?? 50,
        accessLevel: v.write === undefined ? "CurrentRead" : "CurrentRead | CurrentWrite",
        userAccessLevel: v.write === undefined ? "CurrentRead" : "CurrentRead | CurrentWrite",
        value: {
          timestamped_get: () => {
            const status = this.#status.get(v.id);
            if (v.readBlock !== undefined) {
              const block = status === undefined ? v.readBlock() : undefined;
              if (block === undefined)
                return new DataValue({
                  statusCode: getStatusCodeFromCode(status ?? BAD_SENSOR_FAILURE),
                  sourceTimestamp: new Date(),
                });
              return new DataValue({
                value: new Variant({ dataType, arrayType: VariantArrayType.Array, value: block }),
                sourceTimestamp: new Date(),
                serverTimestamp: new Date(),
              });
            }
            const raw = status === undefined ? v.read() : Number.NaN;
            if (status !== undefined || Number.isNaN(raw))
              return new DataValue({
                statusCode: getStatusCodeFromCode(status ?? BAD_SENSOR_FAILURE),
                sourceTimestamp: new Date(),
              });
            return new DataValue({
              value: new Variant({ dataType, value: dataType === DataType.Boolean ? raw !== 0 : raw }),
              sourceTimestamp: new Date(),
              serverTimestamp: new Date(),
            });
          },
          ...(v.write === undefined
            ? {}
            : {
                timestamped_set: async (dataValue: DataValue) => {
                  const variant = dataValue.value;
                  v.write!(
                    variant.dataType === DataType.Boolean ? (variant.value ? 1 : 0) : Number(variant.value),
                  );
                  return StatusCodes.Good;
                },
              }),
        },
      });
    }
    o.populate?.(ns, addressSpace.rootFolder.objects);
    await server.start();
    this.#server = server;
    const endpoint = server.getEndpointUrl();
    this.#port = Number(/:(\d+)(\/|$)/.exec(endpoint)?.[1] ?? 0);
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await server.shutdown(0);
  }
}
