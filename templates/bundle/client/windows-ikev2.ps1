{% autoescape off %}# Sets up the built-in Windows IKEv2 client for the gateway, for every user of this computer.
# Before running it in an elevated PowerShell, import the CA certificate into the computer's
# Trusted Root store and this computer's own certificate (with its key) into its Personal store.
$ErrorActionPreference = 'Stop'
$Name = 'VPN <GATEWAY_ID>'

Add-VpnConnection -Name $Name -ServerAddress '<GATEWAY_ID>' -TunnelType Ikev2 `
    -AuthenticationMethod MachineCertificate -EncryptionLevel {% if integrity_only %}Optional{% else %}Required{% endif %} `
    -SplitTunneling -AllUserConnection

# Windows offers one proposal. These match the gateway's IKE proposal {{ windows.ike }}
# and ESP proposal {{ windows.esp }}.
Set-VpnConnectionIPsecConfiguration -ConnectionName $Name -AllUserConnection -Force `
    -EncryptionMethod {{ windows.parameters.EncryptionMethod }} `
    -IntegrityCheckMethod {{ windows.parameters.IntegrityCheckMethod }} `
    -DHGroup {{ windows.parameters.DHGroup }} `
    -CipherTransformConstants {{ windows.parameters.CipherTransformConstants }} `
    -AuthenticationTransformConstants {{ windows.parameters.AuthenticationTransformConstants }} `
    -PfsGroup {{ windows.parameters.PfsGroup }}

# Only the internal networks go through the tunnel.
foreach ($Prefix in '<INTERNAL_SUBNETS>'.Split(',')) {
    Add-VpnConnectionRoute -ConnectionName $Name -DestinationPrefix $Prefix.Trim() -AllUserConnection
}
{% endautoescape %}
