/**
 * `GET /1.0/resources` in full: every part of LXD's `Resources*` definitions (CPU, memory,
 * GPU, network, storage, USB, PCI, system), typed field by field with LXD's own names.
 * Each field is optional and every nested object or list may be `null`: servers leave out
 * what they cannot detect (a container host has no firmware, chassis or motherboard and
 * sends `null` for them) and what their extensions predate.
 */
import * as Schema from "effect/Schema"

/** ResourcesCPUCache represents a CPU cache */
export const ResourcesCPUCache = Schema.Struct({
  level: Schema.optional(Schema.Number),
  size: Schema.optional(Schema.Number),
  type: Schema.optional(Schema.String)
})

/** ResourcesCPUThread represents a CPU thread on the system */
export const ResourcesCPUThread = Schema.Struct({
  id: Schema.optional(Schema.Number),
  isolated: Schema.optional(Schema.Boolean),
  numa_node: Schema.optional(Schema.Number),
  online: Schema.optional(Schema.Boolean),
  thread: Schema.optional(Schema.Number)
})

/** ResourcesCPUCore represents a CPU core on the system */
export const ResourcesCPUCore = Schema.Struct({
  core: Schema.optional(Schema.Number),
  die: Schema.optional(Schema.Number),
  frequency: Schema.optional(Schema.Number),
  threads: Schema.optional(Schema.NullOr(Schema.Array(ResourcesCPUThread)))
})

/** ResourcesCPUSocket represents a CPU socket on the system */
export const ResourcesCPUSocket = Schema.Struct({
  cache: Schema.optional(Schema.NullOr(Schema.Array(ResourcesCPUCache))),
  cores: Schema.optional(Schema.NullOr(Schema.Array(ResourcesCPUCore))),
  frequency: Schema.optional(Schema.Number),
  frequency_minimum: Schema.optional(Schema.Number),
  frequency_turbo: Schema.optional(Schema.Number),
  name: Schema.optional(Schema.String),
  socket: Schema.optional(Schema.Number),
  vendor: Schema.optional(Schema.String)
})

/** ResourcesCPU represents the cpu resources available on the system */
export const ResourcesCPU = Schema.Struct({
  architecture: Schema.optional(Schema.String),
  sockets: Schema.optional(Schema.NullOr(Schema.Array(ResourcesCPUSocket))),
  total: Schema.optional(Schema.Number)
})

/** ResourcesGPUCardDRM represents the Linux DRM configuration of the GPU */
export const ResourcesGPUCardDRM = Schema.Struct({
  card_device: Schema.optional(Schema.String),
  card_name: Schema.optional(Schema.String),
  control_device: Schema.optional(Schema.String),
  control_name: Schema.optional(Schema.String),
  id: Schema.optional(Schema.Number),
  render_device: Schema.optional(Schema.String),
  render_name: Schema.optional(Schema.String)
})

/** ResourcesGPUCardMdev represents the mediated devices configuration of the GPU */
export const ResourcesGPUCardMdev = Schema.Struct({
  api: Schema.optional(Schema.String),
  available: Schema.optional(Schema.Number),
  description: Schema.optional(Schema.String),
  devices: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  name: Schema.optional(Schema.String)
})

/** ResourcesGPUCardNvidia represents additional information for NVIDIA GPUs */
export const ResourcesGPUCardNvidia = Schema.Struct({
  architecture: Schema.optional(Schema.String),
  brand: Schema.optional(Schema.String),
  card_device: Schema.optional(Schema.String),
  card_name: Schema.optional(Schema.String),
  cuda_version: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  nvrm_version: Schema.optional(Schema.String),
  uuid: Schema.optional(Schema.String)
})

/** ResourcesGPUCardSRIOV represents the SRIOV configuration of the GPU */
export const ResourcesGPUCardSRIOV = Schema.Struct({
  current_vfs: Schema.optional(Schema.Number),
  maximum_vfs: Schema.optional(Schema.Number),
  /** The virtual functions, each a card of the same shape (kept as records: the type would be recursive). */
  vfs: Schema.optional(Schema.NullOr(Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown }))))
})

/** ResourcesGPUCard represents a GPU card on the system */
export const ResourcesGPUCard = Schema.Struct({
  driver: Schema.optional(Schema.String),
  driver_version: Schema.optional(Schema.String),
  drm: Schema.optional(Schema.NullOr(ResourcesGPUCardDRM)),
  mdev: Schema.optional(
    Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.NullOr(ResourcesGPUCardMdev) }))
  ),
  numa_node: Schema.optional(Schema.Number),
  nvidia: Schema.optional(Schema.NullOr(ResourcesGPUCardNvidia)),
  pci_address: Schema.optional(Schema.String),
  product: Schema.optional(Schema.String),
  product_id: Schema.optional(Schema.String),
  sriov: Schema.optional(Schema.NullOr(ResourcesGPUCardSRIOV)),
  usb_address: Schema.optional(Schema.String),
  vendor: Schema.optional(Schema.String),
  vendor_id: Schema.optional(Schema.String)
})

/** ResourcesGPU represents the GPU resources available on the system */
export const ResourcesGPU = Schema.Struct({
  cards: Schema.optional(Schema.NullOr(Schema.Array(ResourcesGPUCard))),
  total: Schema.optional(Schema.Number)
})

/** ResourcesMemoryNode represents the node-specific memory resources available on the system */
export const ResourcesMemoryNode = Schema.Struct({
  hugepages_total: Schema.optional(Schema.Number),
  hugepages_used: Schema.optional(Schema.Number),
  numa_node: Schema.optional(Schema.Number),
  total: Schema.optional(Schema.Number),
  used: Schema.optional(Schema.Number)
})

/** ResourcesMemory represents the memory resources available on the system */
export const ResourcesMemory = Schema.Struct({
  hugepages_size: Schema.optional(Schema.Number),
  hugepages_total: Schema.optional(Schema.Number),
  hugepages_used: Schema.optional(Schema.Number),
  nodes: Schema.optional(Schema.NullOr(Schema.Array(ResourcesMemoryNode))),
  total: Schema.optional(Schema.Number),
  used: Schema.optional(Schema.Number)
})

/** ResourcesNetworkCardPortInfiniband represents the Linux Infiniband configuration for the port */
export const ResourcesNetworkCardPortInfiniband = Schema.Struct({
  issm_device: Schema.optional(Schema.String),
  issm_name: Schema.optional(Schema.String),
  mad_device: Schema.optional(Schema.String),
  mad_name: Schema.optional(Schema.String),
  verb_device: Schema.optional(Schema.String),
  verb_name: Schema.optional(Schema.String)
})

/** ResourcesNetworkCardPort represents a network port on the system */
export const ResourcesNetworkCardPort = Schema.Struct({
  address: Schema.optional(Schema.String),
  auto_negotiation: Schema.optional(Schema.Boolean),
  id: Schema.optional(Schema.String),
  infiniband: Schema.optional(Schema.NullOr(ResourcesNetworkCardPortInfiniband)),
  link_detected: Schema.optional(Schema.Boolean),
  link_duplex: Schema.optional(Schema.String),
  link_speed: Schema.optional(Schema.Number),
  port: Schema.optional(Schema.Number),
  port_type: Schema.optional(Schema.String),
  protocol: Schema.optional(Schema.String),
  supported_modes: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  supported_ports: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  transceiver_type: Schema.optional(Schema.String)
})

/** ResourcesNetworkCardSRIOV represents the SRIOV configuration of the network card */
export const ResourcesNetworkCardSRIOV = Schema.Struct({
  current_vfs: Schema.optional(Schema.Number),
  maximum_vfs: Schema.optional(Schema.Number),
  /** The virtual functions, each a card of the same shape (kept as records: the type would be recursive). */
  vfs: Schema.optional(Schema.NullOr(Schema.Array(Schema.Record({ key: Schema.String, value: Schema.Unknown }))))
})

/** ResourcesNetworkCardVDPA represents the VDPA configuration of the network card */
export const ResourcesNetworkCardVDPA = Schema.Struct({
  device: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String)
})

/** ResourcesNetworkCard represents a network card on the system */
export const ResourcesNetworkCard = Schema.Struct({
  driver: Schema.optional(Schema.String),
  driver_version: Schema.optional(Schema.String),
  firmware_version: Schema.optional(Schema.String),
  numa_node: Schema.optional(Schema.Number),
  pci_address: Schema.optional(Schema.String),
  ports: Schema.optional(Schema.NullOr(Schema.Array(ResourcesNetworkCardPort))),
  product: Schema.optional(Schema.String),
  product_id: Schema.optional(Schema.String),
  sriov: Schema.optional(Schema.NullOr(ResourcesNetworkCardSRIOV)),
  usb_address: Schema.optional(Schema.String),
  vdpa: Schema.optional(Schema.NullOr(ResourcesNetworkCardVDPA)),
  vendor: Schema.optional(Schema.String),
  vendor_id: Schema.optional(Schema.String)
})

/** ResourcesNetwork represents the network cards available on the system */
export const ResourcesNetwork = Schema.Struct({
  cards: Schema.optional(Schema.NullOr(Schema.Array(ResourcesNetworkCard))),
  total: Schema.optional(Schema.Number)
})

/** ResourcesPCIVPD represents VPD entries for a device */
export const ResourcesPCIVPD = Schema.Struct({
  entries: Schema.optional(Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.String }))),
  product_name: Schema.optional(Schema.String)
})

/** ResourcesPCIDevice represents a PCI device */
export const ResourcesPCIDevice = Schema.Struct({
  driver: Schema.optional(Schema.String),
  driver_version: Schema.optional(Schema.String),
  iommu_group: Schema.optional(Schema.Number),
  numa_node: Schema.optional(Schema.Number),
  pci_address: Schema.optional(Schema.String),
  product: Schema.optional(Schema.String),
  product_id: Schema.optional(Schema.String),
  vendor: Schema.optional(Schema.String),
  vendor_id: Schema.optional(Schema.String),
  vpd: Schema.optional(Schema.NullOr(ResourcesPCIVPD))
})

/** ResourcesPCI represents the PCI devices available on the system */
export const ResourcesPCI = Schema.Struct({
  devices: Schema.optional(Schema.NullOr(Schema.Array(ResourcesPCIDevice))),
  total: Schema.optional(Schema.Number)
})

/** ResourcesStorageDiskPartition represents a partition on a disk */
export const ResourcesStorageDiskPartition = Schema.Struct({
  device: Schema.optional(Schema.String),
  device_fs_uuid: Schema.optional(Schema.String),
  id: Schema.optional(Schema.String),
  mounted: Schema.optional(Schema.Boolean),
  partition: Schema.optional(Schema.Number),
  read_only: Schema.optional(Schema.Boolean),
  size: Schema.optional(Schema.Number)
})

/** ResourcesStorageDisk represents a disk */
export const ResourcesStorageDisk = Schema.Struct({
  block_size: Schema.optional(Schema.Number),
  device: Schema.optional(Schema.String),
  device_fs_uuid: Schema.optional(Schema.String),
  device_id: Schema.optional(Schema.String),
  device_path: Schema.optional(Schema.String),
  firmware_version: Schema.optional(Schema.String),
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  mounted: Schema.optional(Schema.Boolean),
  numa_node: Schema.optional(Schema.Number),
  partitions: Schema.optional(Schema.NullOr(Schema.Array(ResourcesStorageDiskPartition))),
  pci_address: Schema.optional(Schema.String),
  read_only: Schema.optional(Schema.Boolean),
  removable: Schema.optional(Schema.Boolean),
  rpm: Schema.optional(Schema.Number),
  serial: Schema.optional(Schema.String),
  size: Schema.optional(Schema.Number),
  type: Schema.optional(Schema.String),
  usb_address: Schema.optional(Schema.String),
  used_by: Schema.optional(Schema.String),
  wwn: Schema.optional(Schema.String)
})

/** ResourcesStorage represents the local storage */
export const ResourcesStorage = Schema.Struct({
  disks: Schema.optional(Schema.NullOr(Schema.Array(ResourcesStorageDisk))),
  total: Schema.optional(Schema.Number)
})

/** ResourcesSystemChassis represents the system chassis */
export const ResourcesSystemChassis = Schema.Struct({
  serial: Schema.optional(Schema.String),
  type: Schema.optional(Schema.String),
  vendor: Schema.optional(Schema.String),
  version: Schema.optional(Schema.String)
})

/** ResourcesSystemFirmware represents the system firmware */
export const ResourcesSystemFirmware = Schema.Struct({
  date: Schema.optional(Schema.String),
  vendor: Schema.optional(Schema.String),
  version: Schema.optional(Schema.String)
})

/** ResourcesSystemMotherboard represents the motherboard */
export const ResourcesSystemMotherboard = Schema.Struct({
  product: Schema.optional(Schema.String),
  serial: Schema.optional(Schema.String),
  vendor: Schema.optional(Schema.String),
  version: Schema.optional(Schema.String)
})

/** ResourcesSystem represents the system */
export const ResourcesSystem = Schema.Struct({
  chassis: Schema.optional(Schema.NullOr(ResourcesSystemChassis)),
  family: Schema.optional(Schema.String),
  firmware: Schema.optional(Schema.NullOr(ResourcesSystemFirmware)),
  motherboard: Schema.optional(Schema.NullOr(ResourcesSystemMotherboard)),
  product: Schema.optional(Schema.String),
  serial: Schema.optional(Schema.String),
  sku: Schema.optional(Schema.String),
  type: Schema.optional(Schema.String),
  uuid: Schema.optional(Schema.String),
  vendor: Schema.optional(Schema.String),
  version: Schema.optional(Schema.String)
})

/** ResourcesUSBDeviceInterface represents a USB device interface */
export const ResourcesUSBDeviceInterface = Schema.Struct({
  class: Schema.optional(Schema.String),
  class_id: Schema.optional(Schema.Number),
  driver: Schema.optional(Schema.String),
  driver_version: Schema.optional(Schema.String),
  number: Schema.optional(Schema.Number),
  subclass: Schema.optional(Schema.String),
  subclass_id: Schema.optional(Schema.Number)
})

/** ResourcesUSBDevice represents a USB device */
export const ResourcesUSBDevice = Schema.Struct({
  bus_address: Schema.optional(Schema.Number),
  device_address: Schema.optional(Schema.Number),
  interfaces: Schema.optional(Schema.NullOr(Schema.Array(ResourcesUSBDeviceInterface))),
  product: Schema.optional(Schema.String),
  product_id: Schema.optional(Schema.String),
  serial: Schema.optional(Schema.String),
  speed: Schema.optional(Schema.Number),
  vendor: Schema.optional(Schema.String),
  vendor_id: Schema.optional(Schema.String)
})

/** ResourcesUSB represents the USB devices available on the system */
export const ResourcesUSB = Schema.Struct({
  devices: Schema.optional(Schema.NullOr(Schema.Array(ResourcesUSBDevice))),
  total: Schema.optional(Schema.Number)
})

/** Incus's load averages (extension `resources_load`). */
export const ResourcesLoad = Schema.Struct({
  Average1Min: Schema.optional(Schema.Number),
  Average5Min: Schema.optional(Schema.Number),
  Average10Min: Schema.optional(Schema.Number),
  Processes: Schema.optional(Schema.Number)
})
