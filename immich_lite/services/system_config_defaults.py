"""Upstream's default SystemConfig (Immich 3.1.0 server/src/config.ts `defaults`) and the fixed option lists.

GET /system-config/defaults returns DEFAULTS as is; the stored config is only the difference from it.
"""
from __future__ import annotations

from typing import Any

EVERY_DAY_AT_MIDNIGHT = "0 0 * * *"  # @nestjs/schedule CronExpression
EVERY_DAY_AT_2AM = "0 02 * * *"
EVERY_DAY_AT_3AM = "0 03 * * *"

DEFAULTS: dict[str, Any] = {
    "backup": {"database": {"enabled": True, "cronExpression": EVERY_DAY_AT_2AM, "keepLastAmount": 14}},
    "ffmpeg": {
        "crf": 23,
        "threads": 0,
        "preset": "ultrafast",
        "targetVideoCodec": "h264",
        "acceptedVideoCodecs": ["h264"],
        "targetAudioCodec": "aac",
        "acceptedAudioCodecs": ["aac", "mp3", "opus"],
        "acceptedContainers": ["mov", "ogg", "webm"],
        "targetResolution": "720",
        "maxBitrate": "0",
        "bframes": -1,
        "refs": 0,
        "gopSize": 0,
        "temporalAQ": False,
        "cqMode": "auto",
        "twoPass": False,
        "preferredHwDevice": "auto",
        "transcode": "required",
        "tonemap": "hable",
        "accel": "disabled",
        "accelDecode": True,
        "realtime": {"enabled": False, "videoCodecs": ["h264", "hevc"], "resolutions": [480, 720, 1080]},
    },
    "integrityChecks": {
        "missingFiles": {"enabled": True, "cronExpression": EVERY_DAY_AT_3AM},
        "untrackedFiles": {"enabled": True, "cronExpression": EVERY_DAY_AT_3AM},
        "checksumFiles": {"enabled": True, "cronExpression": EVERY_DAY_AT_3AM,
                          "timeLimit": 60 * 60 * 1000, "percentageLimit": 1},
    },
    "job": {
        "backgroundTask": {"concurrency": 5},
        "smartSearch": {"concurrency": 2},
        "metadataExtraction": {"concurrency": 5},
        "faceDetection": {"concurrency": 2},
        "search": {"concurrency": 5},
        "sidecar": {"concurrency": 5},
        "library": {"concurrency": 5},
        "migration": {"concurrency": 5},
        "thumbnailGeneration": {"concurrency": 3},
        "videoConversion": {"concurrency": 1},
        "notifications": {"concurrency": 5},
        "ocr": {"concurrency": 1},
        "workflow": {"concurrency": 5},
        "integrityCheck": {"concurrency": 1},
        "editor": {"concurrency": 2},
    },
    "logging": {"enabled": True, "level": "log"},
    "machineLearning": {
        "enabled": True,
        "urls": ["http://immich-machine-learning:3003"],
        "availabilityChecks": {"enabled": True, "timeout": 2000, "interval": 30_000},
        "clip": {"enabled": True, "modelName": "ViT-B-32__openai"},
        "duplicateDetection": {"enabled": True, "maxDistance": 0.01},
        "facialRecognition": {"enabled": True, "modelName": "buffalo_l", "minScore": 0.7, "maxDistance": 0.5,
                              "minFaces": 3},
        "ocr": {"enabled": True, "modelName": "PP-OCRv5_mobile", "minDetectionScore": 0.5,
                "minRecognitionScore": 0.8, "maxResolution": 736},
    },
    "map": {
        "enabled": True,
        "lightStyle": "https://tiles.immich.cloud/v1/style/light.json",
        "darkStyle": "https://tiles.immich.cloud/v1/style/dark.json",
    },
    "reverseGeocoding": {"enabled": True},
    "metadata": {"faces": {"import": False}},
    "oauth": {
        "autoLaunch": False,
        "autoRegister": True,
        "buttonText": "Login with OAuth",
        "clientId": "",
        "clientSecret": "",
        "defaultStorageQuota": None,
        "enabled": False,
        "issuerUrl": "",
        "endSessionEndpoint": "",
        "mobileOverrideEnabled": False,
        "mobileRedirectUri": "",
        "prompt": "",
        "scope": "openid email profile",
        "signingAlgorithm": "RS256",
        "profileSigningAlgorithm": "none",
        "storageLabelClaim": "preferred_username",
        "storageQuotaClaim": "immich_quota",
        "roleClaim": "immich_role",
        "tokenEndpointAuthMethod": "client_secret_post",
        "timeout": 30_000,
        "allowInsecureRequests": False,
    },
    "passwordLogin": {"enabled": True},
    "storageTemplate": {
        "enabled": False,
        "hashVerificationEnabled": True,
        "template": "{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}",
    },
    "image": {
        "thumbnail": {"format": "webp", "size": 250, "quality": 80, "progressive": False},
        "preview": {"format": "jpeg", "size": 1440, "quality": 80, "progressive": False},
        "colorspace": "p3",
        "extractEmbedded": False,
        "fullsize": {"enabled": False, "format": "jpeg", "quality": 80, "progressive": False},
    },
    "newVersionCheck": {"enabled": True, "channel": "stable"},
    "nightlyTasks": {
        "startTime": "00:00",
        "databaseCleanup": True,
        "generateMemories": True,
        "syncQuotaUsage": True,
        "missingThumbnails": True,
        "clusterNewFaces": True,
    },
    "trash": {"enabled": True, "days": 30},
    "theme": {"customCss": ""},
    "library": {"scan": {"enabled": True, "cronExpression": EVERY_DAY_AT_MIDNIGHT}, "watch": {"enabled": False}},
    "server": {"externalDomain": "", "loginPageMessage": "", "publicUsers": True},
    "notifications": {
        "smtp": {
            "enabled": False,
            "from": "",
            "replyTo": "",
            "transport": {"ignoreCert": False, "host": "", "port": 587, "secure": False, "username": "",
                          "password": ""},
        },
    },
    "templates": {"email": {"welcomeTemplate": "", "albumInviteTemplate": "", "albumUpdateTemplate": ""}},
    "user": {"deleteDelay": 7},
}

# Immich: storage-template.service.ts storageTokens / storagePresets (GET /system-config/storage-template-options)
STORAGE_TOKENS: dict[str, list[str]] = {
    "secondOptions": ["s", "ss", "SSS"],
    "minuteOptions": ["m", "mm"],
    "dayOptions": ["d", "dd"],
    "weekOptions": ["W", "WW"],
    "hourOptions": ["h", "hh", "H", "HH"],
    "yearOptions": ["y", "yy"],
    "monthOptions": ["M", "MM", "MMM", "MMMM"],
}

STORAGE_PRESETS: list[str] = [
    "{{y}}/{{y}}-{{MM}}-{{dd}}/{{filename}}",
    "{{y}}/{{MM}}-{{dd}}/{{filename}}",
    "{{y}}/{{MMMM}}-{{dd}}/{{filename}}",
    "{{y}}/{{MM}}/{{filename}}",
    "{{y}}/{{#if album}}{{album}}{{else}}Other/{{MM}}{{/if}}/{{filename}}",
    "{{#if album}}{{album-startDate-y}}/{{album}}{{else}}{{y}}/Other/{{MM}}{{/if}}/{{filename}}",
    "{{y}}/{{MMM}}/{{filename}}",
    "{{y}}/{{MMMM}}/{{filename}}",
    "{{y}}/{{MM}}/{{dd}}/{{filename}}",
    "{{y}}/{{MMMM}}/{{dd}}/{{filename}}",
    "{{y}}/{{y}}-{{MM}}/{{y}}-{{MM}}-{{dd}}/{{filename}}",
    "{{y}}-{{MM}}-{{dd}}/{{filename}}",
    "{{y}}-{{MMM}}-{{dd}}/{{filename}}",
    "{{y}}-{{MMMM}}-{{dd}}/{{filename}}",
    "{{y}}/{{y}}-{{MM}}/{{filename}}",
    "{{y}}/{{y}}-{{WW}}/{{filename}}",
    "{{y}}/{{y}}-{{MM}}-{{dd}}/{{assetId}}",
    "{{y}}/{{y}}-{{MM}}/{{assetId}}",
    "{{y}}/{{y}}-{{WW}}/{{assetId}}",
    "{{album}}/{{filename}}",
    "{{make}}/{{model}}/{{lensModel}}/{{filename}}",
]

# The names a storage template may print (storage-template.service.ts render substitutions).
STORAGE_VARIABLES: frozenset[str] = frozenset(
    ["filename", "ext", "filetype", "filetypefull", "assetId", "assetIdShort", "album", "make", "model", "lensModel"]
    + [t for tokens in STORAGE_TOKENS.values() for t in tokens]
    + [f"album-{edge}-{t}" for edge in ("startDate", "endDate") for t in
       (t for tokens in STORAGE_TOKENS.values() for t in tokens)]
)

# Immich: constants.ts CLIP_MODEL_INFO keys; smart-info.service.ts rejects any other CLIP model name.
CLIP_MODELS: frozenset[str] = frozenset("""
RN101__openai RN101__yfcc15m ViT-B-16__laion400m_e31 ViT-B-16__laion400m_e32 ViT-B-16__openai
ViT-B-32__laion2b-s34b-b79k ViT-B-32__laion2b_e16 ViT-B-32__laion400m_e31 ViT-B-32__laion400m_e32
ViT-B-32__openai XLM-Roberta-Base-ViT-B-32__laion5b_s13b_b90k XLM-Roberta-Large-Vit-B-32 RN50x4__openai
ViT-B-16-plus-240__laion400m_e31 ViT-B-16-plus-240__laion400m_e32 XLM-Roberta-Large-Vit-B-16Plus
LABSE-Vit-L-14 RN50x16__openai ViT-B-16-SigLIP-256__webli ViT-B-16-SigLIP-384__webli
ViT-B-16-SigLIP-512__webli ViT-B-16-SigLIP-i18n-256__webli ViT-B-16-SigLIP__webli ViT-L-14-336__openai
ViT-L-14-quickgelu__dfn2b ViT-L-14__laion2b-s32b-b82k ViT-L-14__laion400m_e31 ViT-L-14__laion400m_e32
ViT-L-14__openai XLM-Roberta-Large-Vit-L-14 nllb-clip-base-siglip__mrl nllb-clip-base-siglip__v1 RN50__cc12m
RN50__openai RN50__yfcc15m RN50x64__openai ViT-H-14-378-quickgelu__dfn5b ViT-H-14-quickgelu__dfn5b
ViT-H-14__laion2b-s32b-b79k ViT-L-16-SigLIP-256__webli ViT-L-16-SigLIP-384__webli ViT-g-14__laion2b-s12b-b42k
XLM-Roberta-Large-ViT-H-14__frozen_laion5b_s13b_b90k ViT-SO400M-14-SigLIP-384__webli
nllb-clip-large-siglip__mrl nllb-clip-large-siglip__v1 ViT-B-16-SigLIP2__webli ViT-B-32-SigLIP2-256__webli
ViT-L-16-SigLIP2-256__webli ViT-L-16-SigLIP2-384__webli ViT-L-16-SigLIP2-512__webli
ViT-SO400M-14-SigLIP2__webli ViT-SO400M-14-SigLIP2-378__webli ViT-SO400M-16-SigLIP2-256__webli
ViT-SO400M-16-SigLIP2-384__webli ViT-SO400M-16-SigLIP2-512__webli ViT-gopt-16-SigLIP2-256__webli
ViT-gopt-16-SigLIP2-384__webli
""".split())
