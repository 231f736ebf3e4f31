; Inno Setup 6 script: the Windows installer of CarMask Studio. NOT BUILT HERE (no Windows
; machine): written from Inno Setup's documentation, to be compiled and tried on Windows.
;
;   py packaging\build.py --edition full                      (dist\CarMask Studio\)
;   iscc packaging\windows\carmask-studio.iss                 (dist\carmask-studio-setup-<version>.exe)
;   py packaging\build.py --edition cpu
;   iscc /DEdition=cpu packaging\windows\carmask-studio.iss   (dist\carmask-studio-cpu-setup-<version>.exe)
;
; The version comes from carmask-studio.exe's version resource, which build.py writes from
; engine.__version__ (build\carmask-version-info.txt); /DAppVersion=x.y.z overrides it.
;
; Installs the bundle under Program Files (or the user's own programs folder, if they choose a
; per-user install), a Start-menu entry, an optional desktop icon, "Open with CarMask Studio"
; for photos and folders, and an uninstaller. The uninstaller removes the program folder only:
; the user's data in %APPDATA%\CarMask Studio (models, session, converted models) and the
; photos and outputs stay, as on Linux (packaging/deb.py).

#ifndef Edition
  #define Edition "full"
#endif
#if Edition == "cpu"
  #define BundleDir "..\..\dist\cpu\CarMask Studio"
  #define PackageName "carmask-studio-cpu"
  #define EditionLabel " (CPU edition)"
#else
  #define BundleDir "..\..\dist\CarMask Studio"
  #define PackageName "carmask-studio"
  #define EditionLabel ""
#endif
#ifndef AppVersion
  #define AppVersion GetFileVersionString(AddBackslash(SourcePath) + BundleDir + "\carmask-studio.exe")
#endif

[Setup]
; one AppId for both editions: installing one replaces the other, as the .deb packages do
AppId={{6F1C2B7E-4C3A-4E8B-9A57-C0A2D51E7B13}
AppName=CarMask Studio
AppVersion={#AppVersion}
AppVerName=CarMask Studio {#AppVersion}{#EditionLabel}
AppPublisher=CarMask
DefaultDirName={autopf}\CarMask Studio
DefaultGroupName=CarMask Studio
DisableProgramGroupPage=yes
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename={#PackageName}-setup-{#AppVersion}
SetupIconFile=..\..\resources\icons\carmask-studio.ico
UninstallDisplayIcon={app}\carmask-studio.exe
UninstallDisplayName=CarMask Studio{#EditionLabel}
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
ChangesAssociations=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; an upgrade or an edition switch starts from a clean program folder (never the user's data)
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\CarMask Studio"; Filename: "{app}\carmask-studio.exe"
Name: "{autodesktop}\CarMask Studio"; Filename: "{app}\carmask-studio.exe"; Tasks: desktopicon

[Registry]
; "Open with" for photos, and "Open in CarMask Studio" on folders
Root: HKA; Subkey: "Software\Classes\Applications\carmask-studio.exe"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "CarMask Studio"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\carmask-studio.exe\shell\open\command"; ValueType: string; ValueData: """{app}\carmask-studio.exe"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\carmask-studio.exe\SupportedTypes"; ValueType: string; ValueName: ".jpg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\carmask-studio.exe\SupportedTypes"; ValueType: string; ValueName: ".jpeg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\carmask-studio.exe\SupportedTypes"; ValueType: string; ValueName: ".png"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\carmask-studio.exe\SupportedTypes"; ValueType: string; ValueName: ".tif"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\carmask-studio.exe\SupportedTypes"; ValueType: string; ValueName: ".tiff"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\carmask-studio.exe\SupportedTypes"; ValueType: string; ValueName: ".webp"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\carmask-studio.exe\SupportedTypes"; ValueType: string; ValueName: ".bmp"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\.jpg\OpenWithProgids"; ValueType: string; ValueName: "Applications\carmask-studio.exe"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.png\OpenWithProgids"; ValueType: string; ValueName: "Applications\carmask-studio.exe"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\Directory\shell\CarMaskStudio"; ValueType: string; ValueData: "Open in CarMask Studio"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Directory\shell\CarMaskStudio"; ValueType: string; ValueName: "Icon"; ValueData: "{app}\carmask-studio.exe"
Root: HKA; Subkey: "Software\Classes\Directory\shell\CarMaskStudio\command"; ValueType: string; ValueData: """{app}\carmask-studio.exe"" ""%1"""

[Run]
Filename: "{app}\carmask-studio.exe"; Description: "{cm:LaunchProgram,CarMask Studio}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; files the program wrote into its own folder; %APPDATA%\CarMask Studio is never listed here
Type: filesandordirs; Name: "{app}"
