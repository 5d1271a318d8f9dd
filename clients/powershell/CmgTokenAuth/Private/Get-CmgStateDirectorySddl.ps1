function Get-CmgStateDirectorySddl {
    <#
    .SYNOPSIS
    The security descriptor of the Windows state folder, in SDDL.
    .DESCRIPTION
    Owner Administrators (O:BA); a protected DACL (P: ProgramData's inherited entries, which
    let Users read and create, are cut) that allows full control (FA) to SYSTEM (SY) and
    Administrators (BA) only, inherited by every file and folder below (OICI). Aliases of
    well-known SIDs, so it means the same in every language of Windows.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    'O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)'
}
