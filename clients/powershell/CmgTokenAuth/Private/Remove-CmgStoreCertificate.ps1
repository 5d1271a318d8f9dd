function Remove-CmgStoreCertificate {
    <#
    .SYNOPSIS
    Deletes a certificate from the Windows certificate store together with its private key.
    .DESCRIPTION
    -DeleteKey is a dynamic parameter of the Certificate provider (Windows only); without it the
    key would stay behind in its provider, orphaned.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][string]$Path)
    Write-Verbose ('Deleting {0} and its private key' -f $Path)
    Remove-Item -LiteralPath $Path -DeleteKey -Force
}
