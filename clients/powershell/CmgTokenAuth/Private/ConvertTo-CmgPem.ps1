function ConvertTo-CmgPem {
    <#
    .SYNOPSIS
    PEM text (RFC 7468): base64 in lines of 64 between BEGIN and END lines.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)][string]$Label,
        [Parameter(Mandatory = $true)][byte[]]$Bytes
    )
    $base64 = [System.Convert]::ToBase64String($Bytes)
    $lines = New-Object -TypeName System.Collections.Generic.List[string]
    $lines.Add('-----BEGIN ' + $Label + '-----')
    for ($offset = 0; $offset -lt $base64.Length; $offset += 64) {
        $lines.Add($base64.Substring($offset, [System.Math]::Min(64, $base64.Length - $offset)))
    }
    $lines.Add('-----END ' + $Label + '-----')
    ($lines -join "`n") + "`n"
}
