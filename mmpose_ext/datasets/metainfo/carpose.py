# MMPose dataset metainfo for 8 car keypoints: four bumper corners and four tire centres.
# "left"/"right" are the car's own sides (as for a person), so a horizontal flip swaps them.
dataset_info = dict(
    dataset_name='carpose',
    paper_info=dict(
        author='mmpose-ext',
        title='Car keypoints: bumper corners and tire centres',
        container='mmpose-ext',
        year='2026',
        homepage='',
    ),
    keypoint_info={
        0: dict(name='left_front_bumper', id=0, color=[0, 255, 0], type='', swap='right_front_bumper'),
        1: dict(name='right_front_bumper', id=1, color=[255, 128, 0], type='', swap='left_front_bumper'),
        2: dict(name='left_rear_bumper', id=2, color=[0, 255, 0], type='', swap='right_rear_bumper'),
        3: dict(name='right_rear_bumper', id=3, color=[255, 128, 0], type='', swap='left_rear_bumper'),
        4: dict(name='left_front_tire', id=4, color=[0, 255, 0], type='', swap='right_front_tire'),
        5: dict(name='right_front_tire', id=5, color=[255, 128, 0], type='', swap='left_front_tire'),
        6: dict(name='left_rear_tire', id=6, color=[0, 255, 0], type='', swap='right_rear_tire'),
        7: dict(name='right_rear_tire', id=7, color=[255, 128, 0], type='', swap='left_rear_tire'),
    },
    skeleton_info={
        # across the car: front and rear bumpers, front and rear axles
        0: dict(link=('left_front_bumper', 'right_front_bumper'), id=0, color=[51, 153, 255]),
        1: dict(link=('left_rear_bumper', 'right_rear_bumper'), id=1, color=[51, 153, 255]),
        2: dict(link=('left_front_tire', 'right_front_tire'), id=2, color=[51, 153, 255]),
        3: dict(link=('left_rear_tire', 'right_rear_tire'), id=3, color=[51, 153, 255]),
        # along each side: tire to tire, and each bumper corner to its nearest tire
        4: dict(link=('left_front_tire', 'left_rear_tire'), id=4, color=[0, 255, 0]),
        5: dict(link=('right_front_tire', 'right_rear_tire'), id=5, color=[255, 128, 0]),
        6: dict(link=('left_front_bumper', 'left_front_tire'), id=6, color=[0, 255, 0]),
        7: dict(link=('right_front_bumper', 'right_front_tire'), id=7, color=[255, 128, 0]),
        8: dict(link=('left_rear_bumper', 'left_rear_tire'), id=8, color=[0, 255, 0]),
        9: dict(link=('right_rear_bumper', 'right_rear_tire'), id=9, color=[255, 128, 0]),
    },
    # Bumper corners sit on a rounded surface with no sharp mark, so they are located less precisely than tire
    # centres; they get the larger loss weight, as MMPose weights its hard joints (wrists, ankles) up.
    joint_weights=[1.2, 1.2, 1.2, 1.2, 1.0, 1.0, 1.0, 1.0],
    # OKS sigmas on COCO's scale (COCO: 0.025 eyes ... 0.107 hips). A bumper corner is ambiguous along the
    # bumper's curve, like a knee or ankle (0.087/0.089); a tire centre is the centre of a large, clear
    # ellipse from the side but only guessed from the front or rear, like a shoulder (0.079).
    sigmas=[0.089, 0.089, 0.089, 0.089, 0.079, 0.079, 0.079, 0.079],
)
